# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB      0      0          192.0.2.1:55002    192.0.2.2:89         
FIN-WAIT-1 0      1          192.0.2.1:58612    192.0.2.2:86         
ESTAB      0      0          192.0.2.1:47336    192.0.2.2:80         
FIN-WAIT-2 0      0          192.0.2.1:42524    192.0.2.2:83         
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:89        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:80        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:83        0.0.0.0:*           
LISTEN     0      4096       192.0.2.2:86        0.0.0.0:*           
ESTAB      0      0          192.0.2.2:86      192.0.2.1:58612       
CLOSE-WAIT 0      0          192.0.2.2:83      192.0.2.1:42524       
ESTAB      0      0          192.0.2.2:80      192.0.2.1:47336       
SYN-RECV   0      0          192.0.2.2:89      192.0.2.1:55002       
