# netns client
State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB      0      0          192.0.2.1:35246    192.0.2.2:443        
FIN-WAIT-2 0      0          192.0.2.1:35248    192.0.2.2:443        
# netns server
State      Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN     0      4096       192.0.2.2:443       0.0.0.0:*           
ESTAB      0      0          192.0.2.2:443     192.0.2.1:35246       
CLOSE-WAIT 0      0          192.0.2.2:443     192.0.2.1:35248       
