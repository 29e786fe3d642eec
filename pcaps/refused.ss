# netns client
State Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
ESTAB 0      0          192.0.2.1:37554    192.0.2.2:80         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:80        0.0.0.0:*           
ESTAB  0      0          192.0.2.2:80      192.0.2.1:37554       
